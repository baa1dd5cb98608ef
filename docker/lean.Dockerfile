# Lean 4 + Mathlib + the Lean REPL, with llemma-prover on top: the same steps as `prover setup lean`.
#   docker build -f docker/lean.Dockerfile -t llemma-prover-lean .
#   docker run --rm llemma-prover-lean prover prove --benchmark minif2f-test --limit 10
FROM python:3.11-slim

ARG LEAN_VERSION=v4.9.0
ENV LLEMMA_PROVER_HOME=/opt/llemma-prover \
    ELAN_HOME=/opt/elan \
    PATH=/opt/elan/bin:$PATH

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl git ca-certificates build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY search search
COPY lean_env lean_env
COPY isabelle_env isabelle_env
COPY prover prover
RUN pip install --no-cache-dir -e .

# elan, the Mathlib project at the benchmark's Lean version, its cache, and the REPL build.
RUN prover setup lean --lean-version "$LEAN_VERSION" && prover data get minif2f && prover doctor

CMD ["prover", "prove", "--benchmark", "minif2f-test"]
