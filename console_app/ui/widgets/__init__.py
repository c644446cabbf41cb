"""Reusable widgets (plots, editors) shared by the console pages."""
