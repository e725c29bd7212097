"""`syncer ui`: a read-only web view of a state file (runs, changes and their field-level
diffs, entity versions, lineage, sinks, policy violations), served with Starlette.

    app        create_app(Settings): the ASGI app
    snapshot   the private copy of the state file the pages read, so that no run is blocked
    panels     the plug-in protocol (entry-point group `syncer.ui`) and feature flags
    pages      the built-in panels
    queries    the SQL behind the pages, paged
    lineage    the graph around an entity, bounded by hops and nodes
    layout     that graph laid out for SVG (pure)
    timeline   the runs of a page on a time axis (pure)
    auth       the token that guards it beyond this machine
    context    what pages share: the state, the templates, query parameters

Stable hooks for browser tests (each template's first comment lists its own): #nav,
a.nav-NAME, #busy-banner, #problem-banner, #pager a.pager-next/.pager-prev, #error .reason;
runs: #runs-filter, #runs-timeline rect.run-bar[data-run], #runs-table,
tr.run-row[data-run-id], a.run-link; a run: #run-summary, #changes,
section.entity-type-group[data-entity-type], tr.change-row[data-fqn], table.diff,
#refused-deletions, #warnings, #deliveries; an entity: #versions, tr.version-row, #compare,
#diff, #version-a, #version-b, #runs-touched; lineage: #lineage-form, #lineage-graph svg,
g.node[data-fqn], g.node.focus, path.edge, #lineage-note, #lineage-edges; sinks:
#sinks-table, tr.sink-row, #dead-letters, tr.dead-letter-row; #violations-table,
tr.violation-row; #busiest-streams; #login-form.

Starlette, uvicorn and Jinja2 come with the `ui` extra: `pip install 'metadata-syncer[ui]'`.
"""
