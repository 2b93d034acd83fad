"""mialth: membership inference attacks against lottery tickets and compressed networks.

The package follows the study's data flow: ``data`` -> ``models`` -> ``training`` -> ``sparsity``
-> ``modelsets`` -> ``signals`` -> ``attacks`` -> ``evaluation`` -> ``reporting``. ``experiments``
holds one module per experiment (what it builds, writes and claims, in ``experiments.REGISTRY``),
``claims`` one module per claim (its rule and text), ``figures`` one module per figure family with the
shared style, ``stats`` the intervals and tests; ``sweep`` runs notebooks, ``plan`` prices them,
``executor`` spreads work over processes.
"""
__version__ = "0.2.0"
