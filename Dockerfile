# One image for every service and the Stripe emulator; the command picks which runs:
#   docker run IMAGE catalog        (migrates its schema, then serves)
#   docker run IMAGE stripe-emulator
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.9.*

WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY tools ./tools
# Workspace members stay editable: each service finds its migrations/ beside its sources.
RUN uv sync --locked --no-dev

COPY deploy/entrypoint.sh /usr/local/bin/billing-entrypoint
RUN useradd --system --uid 10001 billing && chmod +x /usr/local/bin/billing-entrypoint
USER billing

ENTRYPOINT ["billing-entrypoint"]
CMD ["catalog"]
