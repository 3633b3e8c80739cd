# voiceguard with the vendor SDKs (for the traffic generator), built from this repository.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY voiceguard ./voiceguard
RUN pip install --no-cache-dir ".[demo]"
WORKDIR /
# voiceguard reads ./policies from its working directory; a pip-installed package does not carry the packs
COPY policies ./policies
EXPOSE 8080
CMD ["voiceguard", "serve", "--host", "0.0.0.0"]
