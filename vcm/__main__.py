from vcm.cli import app

app()
