"""Qt wizards of the console."""
