"""X-ray data: sources (NIH, CheXpert, generic, generated), patient-level splits, ingest, streaming."""
