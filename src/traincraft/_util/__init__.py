"""Small helpers used by every layer. Imports nothing from traincraft except errors/constants."""
