"""Building blocks of sample_data/generate.py (not part of the auditor package)."""
