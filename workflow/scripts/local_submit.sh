#!/usr/bin/env bash
# A stand-in for sbatch or qsub, for testing the cluster path on one machine: run the job
# script (Snakemake passes it last) in the background and print a job id, as a scheduler does.
set -euo pipefail
jobscript="${*: -1}"
nohup bash "$jobscript" > "$jobscript.out" 2>&1 &
echo "$!"
