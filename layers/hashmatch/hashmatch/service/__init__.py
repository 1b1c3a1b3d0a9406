"""The application service (check, share, withdraw), its ports, settings, events and notifications."""
