export * from '@theseus/contract/naming';
