"""Stationary points in closed form, and their verification."""
