"""Generation: teacher jobs (service.py: the verbs; jobs.py: planning, the one writer, resume;
job_files.py and journal.py: what a running job keeps beside the store)."""
