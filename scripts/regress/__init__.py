"""spatten-kit's regression and sweep runner (docs/regressions.md).

Modules:
  testlist  test lists and named regressions as data (tests/regress/*.json) -> jobs with seeds
  jobs      one job: its directory, command, log, exit code, time and seed (job.json)
  local     the local launcher (a process pool with a progress line)
  slurm     the Slurm launcher (sbatch --array, sacct/squeue)
  results   JSONL summary, JUnit XML (xunit2), the closing line
  junit     a minimal xunit2 schema and its checker
  sweep     grids and lists of points (spk-sim, spk-llm, synth) -> manifest, JSONL, CSV, plots
"""
