# geosvc: registry + OGC API + equity endpoints. The data root is mounted at /data.
FROM python:3.12-slim-bookworm
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
COPY geosvc ./geosvc
COPY config ./config
COPY layers ./layers
RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .
ENV GEOSVC_DATA_ROOT=/data GEOSVC_STORE_DIR=/var/lib/geosvc GEOSVC_HOST=0.0.0.0
VOLUME ["/data", "/var/lib/geosvc"]
EXPOSE 5000
CMD ["sh", "-c", "geosvc publish; exec geosvc serve --host 0.0.0.0 --port 5000"]
