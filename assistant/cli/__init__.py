"""Command line: ``main.py`` parses the shared settings and catches ``AssistantError``; each other module
registers one command group (catalog, categories, personalization); ``common.py`` holds their table and
progress helpers."""
