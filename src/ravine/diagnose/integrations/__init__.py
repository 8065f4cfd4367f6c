"""Thin wrappers that attach the doctor to training frameworks (each imports its framework only when used)."""
