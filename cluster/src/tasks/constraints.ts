/**
 * Marathon placement constraints on the engine's single agent. The agent has a hostname and no other
 * attributes, so: UNIQUE and MAX_PER on `hostname` cap the tasks on it (the rest wait, as for an
 * offer that never matches); CLUSTER, IS, LIKE and UNLIKE compare the hostname; a constraint on an
 * attribute the agent lacks matches only the operators that need no value (UNIQUE, GROUP_BY, UNLIKE).
 */
export function constraintProblem(constraints: string[][], hostname: string, tasksOnAgent: number): string | undefined {
  for (const [rawField = '', operator = '', value = ''] of constraints) {
    const field = rawField.replace(/^@/, '');
    const isHost = field === 'hostname';
    const fail = () =>
      `constraint ${JSON.stringify([rawField, operator, ...(value ? [value] : [])])} does not match this agent`;
    switch (operator) {
      case 'UNIQUE':
        if (isHost && tasksOnAgent >= 1) return fail();
        break;
      case 'MAX_PER':
        if (isHost && tasksOnAgent >= Number(value)) return fail();
        break;
      case 'CLUSTER':
      case 'IS':
        if (!isHost || (value !== '' && value !== hostname)) return fail();
        break;
      case 'LIKE':
        if (!isHost || !fullMatch(value, hostname)) return fail();
        break;
      case 'UNLIKE':
        if (isHost && fullMatch(value, hostname)) return fail();
        break;
      default:
        break; // GROUP_BY: one agent is one group
    }
  }
  return undefined;
}

function fullMatch(pattern: string, text: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(text);
  } catch {
    return false;
  }
}
