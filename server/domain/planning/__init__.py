"""Patrol planning as pure rules (DOMAIN.md section 5; docs/planning.md).

- `due`: what is due on a day, per site: the candidate visits, each with its reasons, a
  priority and a latest working day.
- `draw`: the random draw (双随机), replayable from its record.
- `teams`: the day's teams of two certified officers, and the checks a chosen team must pass.
- `routing`: travel matrices and the vehicle-routing solvers (PyVRP, OR-Tools).
- `plan`: candidates, teams and a matrix in; routes and the not-scheduled list out.

Plain dataclasses in and out; no Flask, no database. The services build the inputs from
the database (`SiteFacts.of`, `Officer.of`) and store the outputs.
"""
