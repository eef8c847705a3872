"""Domain logic: what the plugin decides, independent of how Open edX or POK are reached."""
