"""``ravine reproduce adam-2015``: section 6 of Kingma & Ba (ICLR 2015) as published, and which claims hold.

:mod:`.paper` (the experiments and where the paper fixes each choice), :mod:`.spec` (settings and runs),
:mod:`.data` (data and models), :mod:`.fit` (one run), :mod:`.runner` (tuning, seeds, resume),
:mod:`.analysis` (means and sd), :mod:`.verdicts` (the claims), :mod:`.figures` and :mod:`.results` (outputs).
"""
