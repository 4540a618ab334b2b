# syntax=docker/dockerfile:1
# One runtime image for the five services; the command picks which runs:
#   docker run IMAGE catalog        (migrates its schema, then serves)
# The Stripe emulator, a development stand-in, is its own target (`--target stripe-emulator`)
# so that nothing of it, nor of the embedded development stack, is in the runtime image.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    VIRTUAL_ENV=/opt/venv
RUN pip install --no-cache-dir "uv==0.13.*" && uv venv /opt/venv
WORKDIR /app

# Third-party dependencies first, from the lock and nothing else: a change to the sources
# does not reinstall them. Development tools and the embedded stack are pruned away.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/kit/pyproject.toml libs/kit/
COPY services/catalog/pyproject.toml services/catalog/
COPY services/subscriptions/pyproject.toml services/subscriptions/
COPY services/invoicing/pyproject.toml services/invoicing/
COPY services/webhook-ingest/pyproject.toml services/webhook-ingest/
COPY services/revenue/pyproject.toml services/revenue/
COPY tools/devstack/pyproject.toml tools/devstack/
COPY tools/stripe-emulator/pyproject.toml tools/stripe-emulator/
RUN uv export --locked --no-dev --no-emit-workspace --prune billing-devstack --prune stripe-emulator --output-file requirements.txt \
    && uv pip install --no-deps --require-hashes -r requirements.txt

# Our own packages, editable so that each service finds its migrations/ beside its sources.
COPY libs ./libs
COPY services ./services
RUN uv pip install --no-deps -e libs/contracts -e libs/kit -e services/catalog \
    -e services/subscriptions -e services/invoicing -e services/webhook-ingest -e services/revenue


FROM build AS emulator-build
COPY tools/stripe-emulator ./tools/stripe-emulator
RUN uv export --locked --no-dev --no-emit-workspace --package stripe-emulator --output-file emulator-requirements.txt \
    && uv pip install --no-deps --require-hashes -r emulator-requirements.txt \
    && uv pip install --no-deps -e tools/stripe-emulator


FROM python:3.11-slim AS slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# No installer in an image that serves: the environment is complete when it is copied in.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && useradd --system --uid 10001 billing
WORKDIR /app
COPY deploy/entrypoint.sh /usr/local/bin/billing-entrypoint
ENTRYPOINT ["billing-entrypoint"]


FROM slim AS stripe-emulator
COPY --from=emulator-build /opt/venv /opt/venv
COPY --from=emulator-build /app/tools/stripe-emulator ./tools/stripe-emulator
USER billing
CMD ["stripe-emulator"]


# The default target, last: what `docker build .` gives.
FROM slim AS runtime
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/libs ./libs
COPY --from=build /app/services ./services
USER billing
CMD ["catalog"]
