from django.contrib import admin
from django.urls import include, path

from chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/", include("chat.urls")),
    # Django's own views: /accounts/login/, /accounts/logout/ (POST only), password change...
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
