"""The pieces of scripts/stack.py: nginx configuration (nginx), processes and ports (processes), the Stack (stack).

Shared by `make run`, the integration and end-to-end tests and the benchmarks, which put scripts/ on sys.path.
"""
