export * from '@theseus/contract/errors';
