# Isabelle2022 + Java 11 + PISA + the HOL heaps, with llemma-prover on top: `prover setup isabelle`'s steps.
#   docker build -f docker/isabelle.Dockerfile -t llemma-prover-isabelle .
#   docker run --rm llemma-prover-isabelle prover dsp --benchmark minif2f-valid --generator openai --endpoint ...
FROM eclipse-temurin:11-jdk-jammy

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl git ca-certificates python3.11 python3.11-venv python3-pip \
    && rm -rf /var/lib/apt/lists/*

# Isabelle2022 and its HOL heaps (the build takes a while and wants memory).
RUN curl -L https://isabelle.in.tum.de/website-Isabelle2022/dist/Isabelle2022_linux.tar.gz | tar -xz -C /opt \
    && /opt/Isabelle2022/bin/isabelle build -b -D /opt/Isabelle2022/src/HOL/ -j 4

# PISA, built with sbt.
RUN curl -fL https://github.com/sbt/sbt/releases/download/v1.9.9/sbt-1.9.9.tgz | tar -xz -C /opt \
    && git clone https://github.com/albertqjiang/Portal-to-ISAbelle /opt/pisa \
    && cd /opt/pisa && /opt/sbt/bin/sbt compile assembly

WORKDIR /src
COPY pyproject.toml README.md ./
COPY search search
COPY lean_env lean_env
COPY isabelle_env isabelle_env
COPY prover prover
RUN python3.11 -m pip install --no-cache-dir -e '.[isabelle]'

ENV PISA_JAR=/opt/pisa/target/scala-2.13/PISA-assembly-0.1.jar
CMD ["sh", "-c", "prover dsp --benchmark minif2f-valid --isa-path /opt/Isabelle2022 --pisa-jar $PISA_JAR"]
