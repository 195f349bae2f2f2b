"""Loading neural models (hub id or folder, one shared cache) and reading chat models' answers."""
