"""`mlops`: the operator's command line of this automation (status, watch, history, lineage, actions, report).

Its own package (not `functions/mlops`, the Lambda functions' library): installed into the project's `.venv`,
never into a Lambda package.
"""
