/** A deployment: the steps that take one app from its current to its target definition. */
import { randomUUID } from 'node:crypto';
import type { MarathonDeployment } from '@theseus/services';

export type DeploymentAction = 'StartApplication' | 'ScaleApplication' | 'RestartApplication' | 'StopApplication';

export interface DeploymentRecord {
  id: string;
  version: string;
  appId: string;
  steps: DeploymentAction[][];
  /** 0-based index of the running step. */
  currentStep: number;
  /** The app before the change (undefined for a new app): a rollback restores it. */
  previousVersion?: string;
  /** Why the engine cannot make progress right now (capacity), shown in the queue. */
  waitingFor?: string;
}

export function newDeployment(
  appId: string,
  version: string,
  steps: DeploymentAction[][],
  previousVersion?: string,
): DeploymentRecord {
  return { id: randomUUID(), version, appId, steps, currentStep: 0, ...(previousVersion ? { previousVersion } : {}) };
}

const actions = (d: DeploymentRecord, step: DeploymentAction[] | undefined) =>
  (step ?? []).map((action) => ({ action, app: d.appId }));

export function deploymentJson(d: DeploymentRecord, readinessCheckResults: unknown[] = []): MarathonDeployment {
  return {
    id: d.id,
    version: d.version,
    affectedApps: [d.appId],
    affectedPods: [],
    steps: d.steps.map((s) => ({ actions: actions(d, s) })),
    currentActions: actions(d, d.steps[d.currentStep]).map((a) => ({ ...a, readinessCheckResults })),
    currentStep: Math.min(d.currentStep + 1, d.steps.length),
    totalSteps: d.steps.length,
  };
}

/** The plan as Marathon puts it in deployment events (light format, 1.8+). */
export function planJson(d: DeploymentRecord): Record<string, unknown> {
  return {
    id: d.id,
    version: d.version,
    steps: d.steps.map((s) => ({ actions: actions(d, s) })),
  };
}

/** The running step as deployment events carry it. */
export function stepJson(d: DeploymentRecord): Record<string, unknown> {
  return { actions: actions(d, d.steps[d.currentStep]) };
}
