"""traincraft."""
