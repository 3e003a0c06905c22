"""The schedule file and what is computed from it, without Redis.

``yamlnodes`` (YAML with positions), ``fields`` (one setting), ``loader`` (the validated
``Schedule``), ``planner`` (upcoming and due fires), ``watch`` (reloading the file).
"""
