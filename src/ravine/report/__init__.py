"""Figures and reports. Plotting never computes results: it draws the plain records the lab and doctor produce.

Plots use matplotlib's object API (``matplotlib.figure.Figure`` with the Agg canvas), never pyplot's global
state, so they work headless and in worker processes. matplotlib is in the ``lab`` extra.
"""
