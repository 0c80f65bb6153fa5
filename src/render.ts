// Renders a Plan for --print-plan: a JSON document (schema in docs/plan-schema.md) or readable text.
import type { DirPlan, Plan } from './planner.js';
import { displayArgv } from './env.js';

export const PLAN_SCHEMA_VERSION = 1;

function dirJson(d: DirPlan) {
  const f = d.facts;
  const existing = f.dir ?? f.ancestor;
  return {
    path: d.path,
    purposes: d.purposes,
    state: f.state,
    symlink: f.symlink ?? false,
    action: d.action,
    create: d.action === 'create' ? f.missing ?? [] : [],
    owner_after_create: d.action === 'create' ? d.chownCreatedTo ?? null : null,
    current: f.dir ? { user_id: f.dir.uid, group_id: f.dir.gid, permissions: f.dir.mode.toString(8) } : null,
    nearest_existing_ancestor: !f.dir && existing ? { path: existing.path, user_id: existing.uid, group_id: existing.gid, permissions: existing.mode.toString(8) } : null,
    repair: d.repair,
    repair_reason: d.repairReason || null,
    predicted_writable: d.predictedWritable,
    free_bytes: f.free_bytes ?? null,
    problem: d.problem ?? null,
  };
}

export function planToJson(plan: Plan) {
  return {
    schema_version: PLAN_SCHEMA_VERSION,
    mode: plan.mode,
    running_as: plan.runningAs,
    user: {
      action: plan.user.action,
      spec: plan.user.spec ?? null,
      target: plan.user.target ?? null,
      warning: plan.user.warning ?? null,
    },
    service_user: { uid: plan.service.uid, gid: plan.service.gid, groups: plan.service.groups, name: plan.service.name ?? null, home: plan.service.home ?? null },
    settings: plan.settings,
    repair_policy: plan.repairPolicy,
    strict: plan.strict,
    min_free_bytes: plan.minFree ?? null,
    directories: plan.dirs.map(dirJson),
    environment: plan.env,
    command: plan.command
      ? { argv: displayArgv(plan.command.argv), resolved: plan.command.path ?? null, searched: plan.command.searched, error: plan.command.error ?? null }
      : null,
  };
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function planToText(plan: Plan): string {
  const out: string[] = [];
  const u = plan.user;
  out.push(`model-entrypoint plan (${plan.mode}${plan.mode === 'run' ? '' : ', changes nothing'})`);
  out.push('');
  out.push(`Running as:   uid ${plan.runningAs.uid} gid ${plan.runningAs.gid}`);
  const svc = plan.service;
  const who = `uid ${svc.uid} gid ${svc.gid} groups [${svc.groups.join(',')}]${svc.name ? ` (${svc.name})` : ''}`;
  if (u.action === 'switch') out.push(`User switch:  ${u.spec} -> ${who}, HOME=${svc.home}`);
  else if (u.action === 'ignored') out.push(`User switch:  none (warning: ${u.warning})`);
  else out.push(`User switch:  none, service runs as ${who}`);
  out.push(`Repair:       ${plan.repairPolicy}${plan.strict ? ', strict' : ''}`);
  out.push('');
  out.push('Settings (value <- source):');
  for (const [key, s] of Object.entries(plan.settings)) {
    if (s.value === undefined && s.source === 'default') continue;
    out.push(`  ${pad(key, 16)} ${JSON.stringify(s.value)}  <- ${s.source}${s.origin ? ` (${s.origin})` : ''}`);
  }
  out.push('');
  out.push('Directories:');
  for (const d of plan.dirs) {
    const f = d.facts;
    const now = f.dir ? `exists ${f.dir.uid}:${f.dir.gid} ${f.dir.mode.toString(8)}` : f.state;
    let action: string = d.action;
    if (d.action === 'create') action = `create ${(f.missing ?? []).join(', ')}${d.chownCreatedTo ? ` as ${d.chownCreatedTo.uid}:${d.chownCreatedTo.gid}` : ''}`;
    if (d.repair === 'walk') action += `, repair ownership (${d.repairReason})`;
    out.push(`  ${d.path}  [${d.purposes.join(', ')}]`);
    out.push(`      now: ${now}; plan: ${action}; writable by service user: ${d.predictedWritable ? 'yes (predicted)' : 'NO'}`);
    if (d.problem) out.push(`      problem: ${d.problem.message}`, `      fix: ${d.problem.hint}`);
  }
  out.push('');
  out.push('Environment changes:');
  if (plan.env.length === 0) out.push('  (none)');
  for (const e of plan.env) {
    const value = e.value !== undefined ? `=${e.value}` : '';
    out.push(`  ${pad(e.action, 9)} ${e.name}${value}${e.from ? ` (from ${e.from})` : ''}  # ${e.reason}`);
  }
  out.push('');
  if (plan.command) {
    const c = plan.command;
    out.push(`Command:      ${JSON.stringify(displayArgv(c.argv))}`);
    out.push(c.path ? `Resolved:     ${c.path}` : `Resolved:     FAILS with exit ${c.error!.exitCode}: ${c.error!.message}`);
  }
  return out.join('\n') + '\n';
}
