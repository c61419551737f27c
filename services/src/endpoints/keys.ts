export * from '@theseus/contract/endpoints/keys';
