"""Offline device software updates: staging in the service (staging), installing as root (apply)."""
