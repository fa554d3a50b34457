"""Database layer: SQLAlchemy 2.x models, engine/session handling and Alembic migrations."""
