"""PostgreSQL through SQLAlchemy 2 and psycopg 3: models, repositories, the unit of work, migrations."""
