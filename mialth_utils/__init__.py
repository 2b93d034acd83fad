"""mialth: membership inference attacks against lottery tickets and compressed networks.

The package follows the study's data flow: ``data`` -> ``models`` -> ``training`` -> ``sparsity``
-> ``modelsets`` -> ``signals`` -> ``attacks`` -> ``evaluation`` -> ``reporting``; ``experiments``
holds one function per notebook, ``sweep`` runs notebooks, ``executor`` spreads work over processes.
"""
__version__ = "0.2.0"
