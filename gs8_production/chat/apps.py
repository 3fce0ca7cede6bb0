from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        # Connects the @receiver functions. Here, once the models are loaded, as Django's docs
        # advise: models.py stays free of import side effects.
        from . import signals  # noqa: F401
