"""Drives a Marathon through Debian's python3-marathon, one library call per invocation.

    python3 python_marathon.py <marathon url> <call> [<json arguments>]

prints what the library returned as JSON on stdout; a library error exits 1 with
{"error": <class>, "status": <http status>, "message": ...} on stdout.
"""
import json
import sys
import threading

from marathon import MarathonClient
from marathon.exceptions import MarathonError, MarathonHttpError
from marathon.models import MarathonApp, MarathonGroup


def app_json(app):
    return {
        'id': app.id,
        'instances': app.instances,
        'cmd': app.cmd,
        'mem': app.mem,
        'version': app.version,
        'container_type': app.container.type if app.container else None,
        'image': app.container.docker.image if app.container and app.container.docker else None,
        'tasks_running': app.tasks_running,
        'tasks': [task_json(t) for t in app.tasks],
        'deployments': [d.id for d in app.deployments],
    }


def task_json(task):
    return {'id': task.id, 'app_id': task.app_id, 'state': task.state, 'host': task.host, 'ports': task.ports, 'version': task.version}


def group_json(group):
    return {'id': group.id, 'apps': sorted(a.id for a in group.apps), 'groups': [group_json(g) for g in group.groups]}


def new_app(spec):
    return MarathonApp.from_json(spec)


def event_stream_while_deploying(c, args):
    """
    Reads two event_stream()s while the app of args deploys: one typed (the library's event classes,
    for the event types asked), one raw (every event's JSON text). Ends when the typed stream saw the
    app's task running and the raw one the deployment's deployment_success.
    """
    app_id = args['app']['id']
    typed, raw = [], []
    attached = [threading.Event(), threading.Event()]
    running, succeeded = threading.Event(), threading.Event()

    def read_typed():
        for event in c.event_stream(event_types=args['event_types']):
            typed.append(event)
            if event.event_type == 'event_stream_attached':
                attached[0].set()
            if event.event_type == 'status_update_event' and event.app_id == app_id and event.task_status == 'TASK_RUNNING':
                running.set()

    def read_raw():
        for text in c.event_stream(raw=True):
            event = json.loads(text)
            raw.append(event)
            if event['eventType'] == 'event_stream_attached':
                attached[1].set()
            if event['eventType'] == 'deployment_success' and any(a.get('app') == app_id for s in event['plan']['steps'] for a in s['actions']):
                succeeded.set()

    for target in (read_typed, read_raw):
        threading.Thread(target=target, daemon=True).start()
    for a in attached:
        if not a.wait(20):
            return {'error': 'no event_stream_attached within 20 s'}
    created = c.create_app(app_id, new_app(args['app']))
    running.wait(args.get('timeout', 90))
    succeeded.wait(args.get('timeout', 90))
    typed_out = []
    for e in typed:
        item = {'type': e.event_type, 'class': type(e).__name__}
        for attr in ('app_id', 'task_status', 'task_id', 'client_ip', 'uri', 'host', 'ports'):
            if getattr(e, attr, None) is not None:
                item[attr] = getattr(e, attr)
        typed_out.append(item)
    return {
        'deployment': created.deployments[0].id,
        'typed': typed_out,
        'raw': [{'type': e['eventType'], 'id': e.get('id'), 'plan_id': e.get('plan', {}).get('id')} for e in raw],
    }


def get_group(c, args):
    """
    The group through the library's get_group (or list_groups). python3-marathon 0.13 models a
    group without `enforceRole`, which Marathon 1.9+ writes in every group: its model then raises
    TypeError. That limit of the library is reported as such, not hidden.
    """
    try:
        if args.get('list'):
            return [group_json(g) for g in c.list_groups()]
        return group_json(c.get_group(args['id']))
    except TypeError as e:
        if 'enforce_role' not in str(e):
            raise
        return {'library_model_lacks': 'enforce_role', 'message': str(e)}


CALLS = {
    'ping': lambda c, a: c.ping().decode(),
    'get_info': lambda c, a: (lambda i: {'name': i.name, 'version': i.version, 'leader': i.leader, 'elected': i.elected, 'framework_id': i.framework_id, 'http_port': i.http_config.http_port, 'local_port_min': i.marathon_config.local_port_min})(c.get_info()),
    'get_leader': lambda c, a: c.get_leader(),
    'delete_leader': lambda c, a: c.delete_leader(),
    'create_app': lambda c, a: app_json(c.create_app(a['id'], new_app(a))),
    'list_apps': lambda c, a: [app_json(x) for x in c.list_apps(**a)],
    'get_app': lambda c, a: app_json(c.get_app(a.pop('id'), **a)),
    'update_app': lambda c, a: c.update_app(a['id'], new_app(a['app']), force=a.get('force', False)),
    'update_apps': lambda c, a: c.update_apps([new_app(x) for x in a['apps']], force=a.get('force', False)),
    'scale_app': lambda c, a: c.scale_app(a['id'], instances=a.get('instances'), delta=a.get('delta'), force=a.get('force', False)),
    'restart_app': lambda c, a: c.restart_app(a['id'], force=a.get('force', False)),
    'list_versions': lambda c, a: c.list_versions(a['id']),
    'get_version': lambda c, a: app_json(c.get_version(a['id'], a['version'])),
    'rollback_app': lambda c, a: c.rollback_app(a['id'], a['version'], force=a.get('force', False)),
    'delete_app': lambda c, a: c.delete_app(a['id'], force=a.get('force', False)),
    'list_tasks': lambda c, a: [task_json(t) for t in c.list_tasks(**a)],
    'list_endpoints': lambda c, a: [{'app_id': e.app_id, 'service_port': e.service_port, 'host': e.host, 'task_id': e.task_id, 'task_port': e.task_port} for e in c.list_endpoints()],
    'kill_task': lambda c, a: (lambda r: task_json(r) if hasattr(r, 'state') else r)(c.kill_task(a['app_id'], a['task_id'], scale=a.get('scale', False), wipe=a.get('wipe', False))),
    'kill_tasks': lambda c, a: (lambda r: [task_json(t) for t in r] if isinstance(r, list) else r)(c.kill_tasks(a['app_id'], scale=a.get('scale', False), wipe=a.get('wipe', False), host=a.get('host'))),
    'kill_given_tasks': lambda c, a: c.kill_given_tasks(a['ids'], scale=a.get('scale', False), force=a.get('force')),
    'list_deployments': lambda c, a: [{'id': d.id, 'affected_apps': d.affected_apps, 'current_step': d.current_step, 'total_steps': d.total_steps, 'actions': [x.action for x in d.current_actions]} for d in c.list_deployments()],
    'delete_deployment': lambda c, a: c.delete_deployment(a['id'], force=a.get('force', False)),
    'create_group': lambda c, a: c.create_group(MarathonGroup.from_json(a)),
    'get_group': get_group,
    'update_group': lambda c, a: c.update_group(a['id'], MarathonGroup.from_json(a['group']), force=a.get('force', False)),
    'scale_group': lambda c, a: c.scale_group(a['id'], a['scale_by']),
    'delete_group': lambda c, a: c.delete_group(a['id'], force=a.get('force', False)),
    'list_queue': lambda c, a: [{'app_id': q.app.id, 'count': q.count, 'overdue': q.delay.overdue, 'time_left_seconds': q.delay.time_left_seconds, 'last_unused_offers': q.last_unused_offers} for q in c.list_queue(**a)],
    'reset_delay': lambda c, a: c.reset_delay(a['id']),
    'create_event_subscription': lambda c, a: c.create_event_subscription(a['url']),
    'list_event_subscriptions': lambda c, a: c.list_event_subscriptions(),
    'delete_event_subscription': lambda c, a: c.delete_event_subscription(a['url']),
    'event_stream_while_deploying': event_stream_while_deploying,
}


def main():
    url, call = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    client = MarathonClient(url, timeout=30)
    try:
        result = CALLS[call](client, args)
    except MarathonHttpError as e:
        print(json.dumps({'error': type(e).__name__, 'status': e.status_code, 'message': e.error_message}))
        sys.exit(1)
    except MarathonError as e:
        print(json.dumps({'error': type(e).__name__, 'message': str(e)}))
        sys.exit(1)
    print(json.dumps(result, default=str))


if __name__ == '__main__':
    main()
