# A first working image: gunicorn on port 8080 (the seed maps 80 -> 8080).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=sessiondemo.settings.local
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --uid 10001 app && chown -R app /app
USER app
EXPOSE 8080
CMD ["gunicorn", "sessiondemo.wsgi:application", "--bind", "0.0.0.0:8080", "--workers", "2"]
