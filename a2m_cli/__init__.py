"""The `a2m` command line: one entry point (`main`), one module per command group.

The top layer: it imports a2m_core, training and a2m_ros; none of them imports it.
"""
