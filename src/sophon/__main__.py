from sophon.cli.main import run

run()
