"""The live wall: tiles with console-drawn overlays, the enlarged view and live tuning."""
