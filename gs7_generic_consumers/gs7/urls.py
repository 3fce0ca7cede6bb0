from django.contrib import admin
from django.urls import include, path

from chat import views

urlpatterns = [
    path("", views.home, name="home"),
    path("chat/", include("chat.urls")),
    path("admin/", admin.site.urls),
]
