"""The pieces of the dataset checker that ``data/dataset_check.py`` runs."""
