export * from '@theseus/contract/endpoints/record';
