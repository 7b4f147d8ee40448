"""Plumbing every room uses: the config tree, devices, seeding, paths to shipped files, metrics logs."""
