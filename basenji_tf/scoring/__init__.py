"""What users score with a trained model: one module per tool, and how shard tasks run.

``vcf`` (variants and their windows), ``bed`` (BED regions' windows), ``target_set``,
``ensemble`` (ensemble predictions, the model a command loads), ``cone`` and
``shared_tower`` (exact reuse of reference activations), ``sad``, ``sed``, ``sat``,
``predict``, ``grad`` (one ``run_*`` per command), ``genome_tracks``, ``outputs`` (every
HDF5 layout) and ``execute`` (local processes or a scheduler).
"""
