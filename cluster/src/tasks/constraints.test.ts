import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constraintProblem } from './constraints.js';

describe('constraints on the single agent', () => {
  it('UNIQUE and MAX_PER on hostname cap the tasks on the agent', () => {
    assert.equal(constraintProblem([['hostname', 'UNIQUE']], 'h1', 0), undefined);
    assert.match(constraintProblem([['hostname', 'UNIQUE']], 'h1', 1)!, /does not match/);
    assert.equal(constraintProblem([['hostname', 'MAX_PER', '2']], 'h1', 1), undefined);
    assert.ok(constraintProblem([['@hostname', 'MAX_PER', '2']], 'h1', 2));
  });
  it('CLUSTER, IS, LIKE and UNLIKE compare the hostname; unknown attributes do not match value operators', () => {
    assert.equal(constraintProblem([['hostname', 'CLUSTER', 'h1']], 'h1', 5), undefined);
    assert.ok(constraintProblem([['hostname', 'IS', 'h2']], 'h1', 0));
    assert.equal(constraintProblem([['hostname', 'LIKE', 'h[0-9]']], 'h1', 0), undefined);
    assert.ok(constraintProblem([['hostname', 'UNLIKE', 'h.*']], 'h1', 0));
    assert.ok(constraintProblem([['rack_id', 'LIKE', 'rack-1']], 'h1', 0));
    assert.equal(constraintProblem([['rack_id', 'GROUP_BY']], 'h1', 3), undefined);
  });
});
