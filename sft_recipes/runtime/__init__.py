"""What a run needs from the machine: one run per output folder (run_lock.py), OS errors as one line naming the path
(os_errors.py), CPU thread oversubscription warnings (cpu_threads.py), the environment report (env_info.py), work run
in a new process (fresh_process.py), and the upstream warnings a run hides unless --verbose (quiet.py)."""
